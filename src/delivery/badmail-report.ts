// The .bdr report now lives with the rest of the mailroot contract, in src/spool/; kept here for delivery's imports.
export { badmailReport, type BadmailReportInput } from '../spool/badmail-report.js';
