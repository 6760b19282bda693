// mailroot's version, as a constant so a bundled single executable does not need package.json at run time.
// test/unit/version.test.ts keeps it equal to package.json's.
export const VERSION = '0.1.0';
