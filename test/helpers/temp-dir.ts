// Temporary folders for tests, removed when the test process exits (passed or failed), so that a run leaves
// nothing behind in the OS temp folder. A test that removes its folder itself earlier may do so.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const made = new Set<string>();

process.on('exit', () => {
  for (const dir of made) {
    try {
      // maxRetries: Windows may still hold a file a just-stopped child process had open (EBUSY, EPERM).
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
    } catch {
      // A file made undeletable on purpose (chattr +i) stays; the test that made it says so.
    }
  }
});

/** A new empty folder in the OS temp folder, named `<prefix><random>`, removed when this process exits. */
export async function tempDir(prefix: string): Promise<string> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), prefix));
  made.add(dir);
  return dir;
}
