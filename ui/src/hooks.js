import { useEffect, useState } from 'preact/hooks';
import { api } from './api.js';

// useAPI loads a path (null: nothing) and reloads when it changes; an answer for a
// path no longer shown is dropped.
export function useAPI(path) {
  const [state, setState] = useState({ data: null, error: null, loading: !!path });
  const [round, setRound] = useState(0);
  useEffect(() => {
    if (!path) return undefined;
    let current = true;
    setState((s) => ({ ...s, loading: true }));
    api(path).then((data) => current && setState({ data, error: null, loading: false }),
      (error) => current && setState({ data: null, error, loading: false }));
    return () => { current = false; };
  }, [path, round]);
  return { ...state, reload: () => setRound((n) => n + 1) };
}
