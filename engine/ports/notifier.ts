/**
 * The notifier port: what a pipeline tells people about its loads and dead letters. Adapters: SNS
 * (`SnsNotifier`) and memory (`MemoryNotifier`, tests and local runs). The engine publishes only
 * the events the spec's `notifications.on` lists.
 */

/** The events a spec can ask to be notified of (`notifications.on`). */
export type NotificationEvent = 'load_failed' | 'load_succeeded' | 'dead_letter';

export interface Notification {
  event: NotificationEvent;
  /** The component it concerns (a sink id). */
  component: string;
  /** One line for an email subject: at most 100 characters, as SNS allows. */
  subject: string;
  /** The details, published as the JSON message body. Never holds secrets or record values beyond what dead letters hold. */
  detail: Readonly<Record<string, unknown>>;
}

export interface Notifier {
  /** Publishes one notification; rejects when it could not be delivered to the topic. */
  publish(pipeline: string, notification: Notification): Promise<void>;
}
