import * as z from 'zod';
import { parseJsonAs } from '../json.ts';

/**
 * What the Kinesis event source mapping sends to its OnFailure destination when it gives up on a
 * batch: metadata only, never the payload (aws-semantics.md). Unknown fields are tolerated, since
 * AWS may add some; the ones the redrive needs are required.
 */
export const OnFailureMessageSchema = z.looseObject({
  requestContext: z.looseObject({
    requestId: z.string(),
    functionArn: z.string(),
    condition: z.string(),
    approximateInvokeCount: z.number(),
  }),
  version: z.string(),
  timestamp: z.string(),
  KinesisBatchInfo: z.looseObject({
    shardId: z.string().min(1),
    startSequenceNumber: z.string().regex(/^\d+$/),
    endSequenceNumber: z.string().regex(/^\d+$/),
    approximateArrivalOfFirstRecord: z.string().optional(),
    approximateArrivalOfLastRecord: z.string().optional(),
    batchSize: z.number().int().positive(),
    streamArn: z.string().min(1),
  }),
});

export type OnFailureMessage = z.infer<typeof OnFailureMessageSchema>;

export const parseOnFailureMessage = (body: string): OnFailureMessage | undefined => parseJsonAs(OnFailureMessageSchema, body);
