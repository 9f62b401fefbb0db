import type { ProviderKind } from './provider-kind.js';

/** One instance, by kind and name. */
export interface InstanceRef {
  kind: ProviderKind;
  name: string;
}

/** What a reload changed. No values: key names only, so that no secret is ever in it. */
export interface ReloadResult {
  added: InstanceRef[];
  removed: InstanceRef[];
  /** Instances whose entry changed, with the top-level keys that did (`apiKey`, `params`, `deployments`, ...). */
  changed: Array<InstanceRef & { keys: string[] }>;
  /** Changes a reload does not apply (the `store:` section): they wait for a restart. */
  ignored: string[];
}
