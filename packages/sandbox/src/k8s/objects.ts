// Plain shapes of Kubernetes objects as the sandbox stores them (unstructured JSON).

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  // biome-ignore lint/suspicious/noExplicitAny: unstructured objects, like Go's map[string]interface{}.
  [key: string]: any;
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

export interface StoredEvent {
  type: WatchEventType;
  /** groupResource of the object, e.g. `backups.velero.io`. */
  resource: string;
  object: KubeObject;
  resourceVersion: number;
}
