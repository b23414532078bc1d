// Web storage that never throws. Browsers that block storage for third-party frames (our
// pages embedded in a town's website) throw a SecurityError on the mere access of
// `localStorage`; remembering things is a convenience, so without storage we simply forget.

function store() {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

export function remember(key, value) {
  try {
    store()?.setItem(key, value);
  } catch {
    // storage blocked or full: the page works without it
  }
}

export function recall(key) {
  try {
    return store()?.getItem(key) ?? null;
  } catch {
    return null;
  }
}

export function forget(key) {
  try {
    store()?.removeItem(key);
  } catch {
    // nothing to forget
  }
}
