/** JSON from Redis or another node: text that does not parse is `undefined`, for the schema to refuse. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
