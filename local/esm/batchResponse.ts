/** How a mapping reads what the function returned (ReportBatchItemFailures). */
export type BatchVerdict =
  | { kind: 'success' }
  /** The whole batch failed although the function returned: its response could not be read. */
  | { kind: 'unreadable'; reason: string }
  | { kind: 'partial'; itemIdentifiers: string[] };

/**
 * Reads a partial batch response the way Lambda documents it (services-kinesis-batchfailurereporting,
 * services-sqs-errorhandling): an empty or null response, or an empty or null `batchItemFailures`,
 * is a full success; an empty or null `itemIdentifier`, a misnamed key, an entry that is not an
 * object, a list that is not a list, or an identifier that is not in the batch is a full failure.
 * Never throws: whatever the function returns, the poller carries on.
 */
export function readBatchResponse(response: unknown, inBatch: (id: string) => boolean, reportBatchItemFailures: boolean): BatchVerdict {
  // Without FunctionResponseTypes: ['ReportBatchItemFailures'] Lambda does not look at the response.
  if (!reportBatchItemFailures || response === undefined || response === null) return { kind: 'success' };
  // The docs are silent on a response that is JSON but not an object; it cannot be read as
  // {"batchItemFailures": [...]}, so like invalid JSON (with-sqs) it fails the batch.
  if (typeof response !== 'object' || Array.isArray(response)) return { kind: 'unreadable', reason: 'the response is not an object' };
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return { kind: 'success' };
  if (!Array.isArray(failures)) return { kind: 'unreadable', reason: 'batchItemFailures is not a list' };
  if (failures.length === 0) return { kind: 'success' };
  const ids: string[] = [];
  for (const entry of failures as unknown[]) {
    const id = typeof entry === 'object' && entry !== null ? (entry as { itemIdentifier?: unknown }).itemIdentifier : undefined;
    if (typeof id !== 'string' || id === '') return { kind: 'unreadable', reason: `batch item failure ${describe(entry)} has no itemIdentifier` };
    if (!inBatch(id)) return { kind: 'unreadable', reason: `itemIdentifier ${id} is not in the batch` };
    ids.push(id);
  }
  return { kind: 'partial', itemIdentifiers: ids };
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value); // circular or BigInt: the function returned something JSON cannot hold
  }
}
