// What the Windows run (Windows' node.exe under Wine, `npm run test:windows`) cannot check, said once.

/** A skip reason on win32, false elsewhere: the test reaches a loopback HTTP server (a token endpoint) with fetch(). */
export const FETCH_TO_LOOPBACK_UNDER_WINE =
  process.platform === 'win32' &&
  'fetch() fails against a loopback HTTP server under Wine\'s node.exe ("fetch failed"); not a Windows limitation we know of, but the Wine run cannot check it';
