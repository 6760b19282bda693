// The errno code (ENOENT, EBUSY, ...) of a Node.js system error; undefined for any other error.
export function errorCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}
