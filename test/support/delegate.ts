/**
 * An object that answers the members in `overrides` itself and sends every other member to
 * `target`, with methods bound to `target`: classes keep their state in `#` private fields, which
 * only the real instance has, so a wrapper must call them on it (never on a proxy or a copy).
 */
export function withOverrides<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get: (real, key) => {
      if (Object.hasOwn(overrides, key)) return overrides[key as keyof T];
      const value: unknown = Reflect.get(real, key);
      return typeof value === "function" ? value.bind(real) : value;
    },
  });
}
