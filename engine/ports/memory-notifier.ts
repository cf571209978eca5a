import type { Notification, Notifier } from './notifier.ts';

/** A notification as the memory notifier received it. */
export interface PublishedNotification {
  pipeline: string;
  notification: Notification;
}

export interface MemoryNotifierOptions {
  /** Decides whether a publication fails, with the error to reject with [none fails]: a topic that cannot be reached. */
  fail?: (pipeline: string, notification: Notification) => Error | undefined;
}

/**
 * A `Notifier` that keeps what it is given, for tests and local runs. `published` holds every
 * notification delivered, oldest first; one that `fail` refuses rejects and is not kept.
 */
export class MemoryNotifier implements Notifier {
  readonly published: PublishedNotification[] = [];
  private readonly fail: MemoryNotifierOptions['fail'];

  constructor(options: MemoryNotifierOptions = {}) {
    this.fail = options.fail;
  }

  async publish(pipeline: string, notification: Notification): Promise<void> {
    const error = this.fail?.(pipeline, notification);
    if (error !== undefined) throw error;
    this.published.push({ pipeline, notification: structuredClone(notification) });
  }

  /** The notifications of one event, in the order they were published. */
  of(event: Notification['event']): Notification[] {
    return this.published.filter((entry) => entry.notification.event === event).map((entry) => entry.notification);
  }
}
