/**
 * A refusal sent to an SMTP client, its parts kept apart (as maddy's SMTPError does): the reply code, the
 * enhanced status code (RFC 3463), the text the client reads, and the reason the log gives. smtp-server sends
 * `message` ("5.7.1 Unable to relay ...") with `responseCode`; always set the code, the library's default varies
 * by stage.
 */
export class SmtpError extends Error {
  override name = 'SmtpError';
  readonly responseCode: number;
  /** "5.7.1" */
  readonly enhanced: string;
  /** What the client is told after the codes. */
  readonly clientText: string;
  /** What the log says: shorter, or with what the client need not know. The client's text when not given. */
  readonly reason: string;

  constructor(code: number, enhanced: string, clientText: string, reason = clientText) {
    super(`${enhanced} ${clientText}`);
    this.responseCode = code;
    this.enhanced = enhanced;
    this.clientText = clientText;
    this.reason = reason;
  }

  get code(): number {
    return this.responseCode;
  }

  /** The reply text after the reply code: the enhanced code, then the client's text. */
  get text(): string {
    return this.message;
  }
}
