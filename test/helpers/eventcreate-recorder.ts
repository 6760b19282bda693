// Stands in for eventcreate.exe (the Event Log itself cannot exist here): appends the arguments it was started
// with, as one JSON line, to the file named by its first argument. Exit code 3 when told to fail.
import fs from 'node:fs';

const [record, ...args] = process.argv.slice(2);
fs.appendFileSync(record!, `${JSON.stringify(args)}\n`);
process.exitCode = args.includes('FAIL-ME') ? 3 : 0;
