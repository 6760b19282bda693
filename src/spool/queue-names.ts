// The names of files in Queue: <id>.eml for a message, <id>.rtr for its retry state.
export const QUEUE_SUFFIX = '.eml';
export const STATE_SUFFIX = '.rtr';
export function idOf(queueName: string): string {
  return queueName.endsWith(QUEUE_SUFFIX) || queueName.toLowerCase().endsWith(QUEUE_SUFFIX)
    ? queueName.slice(0, -QUEUE_SUFFIX.length)
    : queueName;
}

export function isQueueMessageName(name: string): boolean {
  return name.toLowerCase().endsWith(QUEUE_SUFFIX) && !name.startsWith('.');
}
