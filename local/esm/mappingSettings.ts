import * as z from 'zod';

/**
 * The event source mapping settings the emulators honour, with the ranges CreateEventSourceMapping
 * accepts (services-kinesis-parameters, with-sqs). The runner checks them itself, so a test config
 * that bypasses the stage schema still gets what Lambda would refuse refused.
 */
export const KinesisMappingSettingsSchema = z.object({
  batchSize: z.number().int().min(1).max(10_000),
  /** MaximumBatchingWindowInSeconds: whole seconds. */
  batchWindowSeconds: z.number().int().min(0).max(300),
  /** Concurrent batches per shard; records of one partition key stay in order. */
  parallelizationFactor: z.number().int().min(1).max(10),
  bisectOnError: z.boolean(),
  /** -1: until the record expires. */
  maxRetryAttempts: z.number().int().min(-1).max(10_000),
  /** -1: no limit. */
  maxRecordAgeSeconds: z.union([z.literal(-1), z.number().int().min(60).max(604_800)]),
  /** FunctionResponseTypes: ['ReportBatchItemFailures']; without it a partial response is ignored. */
  reportBatchItemFailures: z.boolean(),
});
export type KinesisMappingSettings = z.infer<typeof KinesisMappingSettingsSchema>;

export const SqsMappingSettingsSchema = z
  .object({
    batchSize: z.number().int().min(1).max(10_000),
    batchWindowSeconds: z.number().int().min(0).max(300),
    /** ScalingConfig.MaximumConcurrency: concurrent batches (invocations) at most. */
    maxConcurrency: z.number().int().min(2).max(1_000),
    reportBatchItemFailures: z.boolean(),
    /** The function's timeout: with the window it decides how long a batch stays invisible. */
    functionTimeoutSeconds: z.number().int().min(1).max(900),
  })
  .superRefine((s, ctx) => {
    if (s.batchSize > 10 && s.batchWindowSeconds < 1) {
      ctx.addIssue({ code: 'custom', path: ['batchWindowSeconds'], message: 'a batch size over 10 needs MaximumBatchingWindowInSeconds >= 1' });
    }
  });
export type SqsMappingSettings = z.infer<typeof SqsMappingSettingsSchema>;

export class InvalidMappingError extends Error {
  override readonly name = 'InvalidParameterValueException';
}

/** Parses settings the way CreateEventSourceMapping validates them; throws one readable error. */
export function checkSettings<S extends z.ZodType>(schema: S, what: string, settings: unknown): z.infer<S> {
  const parsed = schema.safeParse(settings);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
  throw new InvalidMappingError(`invalid ${what} event source mapping: ${problems}`);
}
