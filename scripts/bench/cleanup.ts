// Child processes and servers still alive when a scenario fails or the bench is interrupted are ended here.
const actions = new Set<() => Promise<void>>();

/** Registers an action to run if the bench stops early; returns a function that unregisters it. */
export function onCleanup(action: () => Promise<void>): () => void {
  actions.add(action);
  return () => actions.delete(action);
}

export async function cleanupAll(): Promise<void> {
  const pending = [...actions];
  actions.clear();
  await Promise.allSettled(pending.map((action) => action()));
}
