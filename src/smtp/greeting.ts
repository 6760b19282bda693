// When the 220 greeting goes out. smtp-server 3.21 holds every new connection 100 ms before greeting it, to catch
// "early talkers" (a hard-coded timer in SMTPConnection.init(), not an option): a cap of 10 messages/s for a
// client that opens one connection per message, as .NET's SmtpClient and the AD CS exit module do.
//
// There is no option to change it, so this goes through the library's typed methods: after server.connect()
// has created the connection (and init() armed the 100 ms timer), connectionReady() is called at our own time,
// and the library's timer call, when it comes, is swallowed once. A client that talks before the greeting still
// gets the library's "421 You talk too soon". test/e2e/greeting.test.ts fails if an update of smtp-server
// changes the timer this relies on.
import type { SMTPServer } from 'smtp-server';

/** The library's own wait before the greeting (SMTPConnection.init), as measured by the test. */
export const LIBRARY_GREETING_WAIT_MS = 100;

interface ReadyConnection {
  connectionReady(next?: () => void): void;
}

/** The connection server.connect() just added: a Set keeps insertion order, so it is the last one. */
function newest<T>(set: Set<T>): T | undefined {
  let last: T | undefined;
  for (const item of set) last = item;
  return last;
}

/** Greets each new connection of `server` after `delayMs` (0: at once) instead of the library's 100 ms. */
export function setGreetingDelay(server: SMTPServer, delayMs: number): void {
  const connect = server.connect.bind(server);
  server.connect = (socket, socketOptions) => {
    connect(socket, socketOptions);
    const connection = newest(server.connections) as unknown as ReadyConnection | undefined;
    if (!connection) return;
    const ready = connection.connectionReady;
    // The library's timer calls this.connectionReady(): the first such call is its, and is dropped.
    connection.connectionReady = function swallowLibraryTimer(this: ReadyConnection) {
      delete (this as Partial<ReadyConnection>).connectionReady;
    };
    // A connection that init() refused (maxClients: 421, closing) is left alone by connectionReady itself.
    if (delayMs <= 0) {
      ready.call(connection);
    } else {
      setTimeout(() => ready.call(connection), delayMs).unref();
    }
  };
}
