import { useCallback, useEffect, useState } from 'preact/hooks';
import { api } from './api.js';

// useAPI loads a path (null: nothing) and reloads when it changes.
export function useAPI(path) {
  const [state, setState] = useState({ data: null, error: null, loading: !!path });
  const load = useCallback(() => {
    if (!path) return;
    setState((s) => ({ ...s, loading: true }));
    api(path).then((data) => setState({ data, error: null, loading: false }), (error) => setState({ data: null, error, loading: false }));
  }, [path]);
  useEffect(load, [load]);
  return { ...state, reload: load };
}
