import type * as z from 'zod';

/** A schema's first complaint as `path: message`, the path under `at` (the place the checked value sits in). */
export function firstIssue(error: z.ZodError, at: ReadonlyArray<string | number> = []): string {
  const issue = error.issues[0];
  return issue ? `${[...at, ...issue.path.map(String)].join('.') || '(root)'}: ${issue.message}` : 'does not match';
}

/** JSON text checked against a schema: its data, or undefined when the text is not JSON or does not match. */
export function parseJsonAs<S extends z.ZodType>(schema: S, text: string): z.infer<S> | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = schema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}
