// The import report as an administrator reads it: one line per IIS setting, grouped by what happened to it.
import type { ImportResult, ReportStatus } from './import.js';

const HEADINGS: Record<ReportStatus, string> = {
  review: 'NEEDS REVIEW (imported in a safer form, or needs a value the metabase cannot give)',
  changed: 'CHANGED (mailroot does this differently)',
  mapped: 'MAPPED',
  'not-supported': 'NOT SUPPORTED',
  ignored: 'IGNORED (no such setting in mailroot)',
};

export function formatImportReport(result: ImportResult, written: string | undefined): string {
  const lines = [`IIS SMTP virtual server /LM/SmtpSvc/${result.server}${written ? ` -> ${written}` : ''}`, ''];
  for (const status of Object.keys(HEADINGS) as ReportStatus[]) {
    const items = result.report.filter((item) => item.status === status);
    if (items.length === 0) continue;
    lines.push(HEADINGS[status]);
    for (const item of items) {
      const key = item.key ? ` -> ${item.key}` : '';
      lines.push(`  ${item.property} = ${item.iis}${key}: ${item.note}`);
    }
    lines.push('');
  }
  lines.push(
    result.needsReview
      ? 'Some settings need review (above). Check the result with: mailroot check-config --config <file>'
      : 'Every setting was carried over or reported. Check the result with: mailroot check-config --config <file>',
  );
  return lines.join('\n') + '\n';
}
