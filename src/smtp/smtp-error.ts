/** An error smtp-server turns into exactly this reply. Always set the code: the library's default varies by stage. */
export function smtpError(code: number, text: string): Error & { responseCode: number } {
  return Object.assign(new Error(text), { responseCode: code });
}
