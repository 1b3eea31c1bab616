import { KinesisClient } from '@aws-sdk/client-kinesis';
import { SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { installSendGate } from './queue.ts';

/**
 * AWS clients, created once per container. HTTP/1.1 keep-alive handler: the SDK's default
 * HTTP/2 handler fails against the local emulators, and HTTP/1.1 is what Lambda uses anyway.
 * AWS_ENDPOINT_URL (emulators, LocalStack) is honoured by the SDK itself.
 */
const requestHandler = () => new NodeHttpHandler({ connectionTimeout: 3_000, requestTimeout: 10_000 });

export const kinesisClient = (region: string): KinesisClient => new KinesisClient({ region, requestHandler: requestHandler(), maxAttempts: 3 });

// Requests go to the configured endpoint, not the queue URL's host: identical in AWS, and it lets
// emulators hand out queue URLs whose host is not routable. cacheMiddleware: the handler chain of
// a command is resolved once, not per send (the send gate is its only added middleware, added
// here); ingest sends three SendMessageBatch a batch, about 0.2 ms less.
export const sqsClient = (region: string): SQSClient =>
  installSendGate(new SQSClient({ region, requestHandler: requestHandler(), maxAttempts: 3, useQueueUrlAsEndpoint: false, cacheMiddleware: true }));
