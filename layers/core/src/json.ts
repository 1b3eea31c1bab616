import type * as z from 'zod';

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
