import { importFauxqs } from './fauxqsInternals.ts';

/**
 * The characters AWS SQS refuses in a message body (SendMessage, MessageBody): anything outside
 * #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF. With the `u` flag a lone
 * surrogate is a code point of its own, outside every range, so it is refused as SQS refuses it.
 */
export const INVALID_SQS_BODY_CHARACTER = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/**
 * fauxqs checks bodies with a pattern written without the `u` flag and without the supplementary
 * planes, so it refuses every astral character (emoji, rare CJK) that SQS accepts. Its SendMessage
 * and SendMessageBatch both call `test` on one shared RegExp object: giving that object the AWS
 * check makes the local queue accept and refuse exactly what SQS does, without touching node_modules.
 */
export async function acceptAwsBodyCharacters(): Promise<void> {
  const types = await importFauxqs<{ INVALID_MESSAGE_BODY_CHAR?: unknown }>('dist/sqs/sqsTypes.js');
  const pattern = types.INVALID_MESSAGE_BODY_CHAR;
  if (!(pattern instanceof RegExp)) throw new Error('fauxqs no longer exports INVALID_MESSAGE_BODY_CHAR: review local/services/sqsBodyCharacters.ts');
  Object.defineProperty(pattern, 'test', { value: (body: string) => INVALID_SQS_BODY_CHARACTER.test(body) });
}
