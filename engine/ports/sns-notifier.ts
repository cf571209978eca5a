import { PublishCommand } from '@aws-sdk/client-sns';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { Notification, Notifier } from './notifier.ts';

/** Longest subject SNS accepts. */
export const MAX_SUBJECT_LENGTH = 100;

/**
 * Largest message body this notifier sends, in UTF-8 bytes: SNS takes 256 KiB for the body and
 * the attributes together, so the body keeps a margin for the three attributes.
 */
export const MAX_MESSAGE_BYTES = 250_000;

/** The JSON body of a published notification. */
export interface NotificationMessage {
  pipeline: string;
  event: Notification['event'];
  component: string;
  subject: string;
  /** The notification's detail, or, when it would not fit in a message, `{ truncated: true, text }` with its JSON cut to fit. */
  detail: Readonly<Record<string, unknown>>;
}

/**
 * The `Notifier` of a deployed pipeline: one SNS `Publish` per notification to one topic, through
 * an SDK v3 client the caller configures. The subject is the notification's, made acceptable to
 * SNS (printable ASCII, no line breaks, at most 100 characters); the body is a
 * {@link NotificationMessage} as JSON; the attributes `event`, `pipeline` and `component` let
 * subscriptions filter. Rejects with the SDK's error when the topic cannot be reached.
 */
export class SnsNotifier implements Notifier {
  constructor(
    private readonly client: SNSClient,
    private readonly topicArn: string,
  ) {}

  async publish(pipeline: string, notification: Notification): Promise<void> {
    await this.client.send(new PublishCommand({
      TopicArn: this.topicArn,
      Subject: snsSubject(notification.subject, `ingest ${pipeline}: ${notification.event} (${notification.component})`),
      Message: notificationMessage(pipeline, notification),
      MessageAttributes: {
        event: { DataType: 'String', StringValue: notification.event },
        pipeline: { DataType: 'String', StringValue: pipeline },
        component: { DataType: 'String', StringValue: notification.component },
      },
    }));
  }
}

/**
 * A subject SNS accepts, from `subject`: each run of white space (line breaks included) becomes
 * one space, other characters outside printable ASCII (controls, anything SNS or an email client
 * may refuse) become `?`, leading and trailing blanks go, and a longer text is cut to 100
 * characters ending in `...`. An empty result falls back to
 * `fallback`, cleaned the same way.
 */
export function snsSubject(subject: string, fallback: string): string {
  const cleaned = subject.replace(/\s+/g, ' ').replace(/[^\x20-\x7e]/g, '?').trim();
  if (cleaned === '') return fallback === '' ? 'ingest notification' : snsSubject(fallback, '');
  return cleaned.length <= MAX_SUBJECT_LENGTH ? cleaned : `${cleaned.slice(0, MAX_SUBJECT_LENGTH - 3).trimEnd()}...`;
}

/**
 * The JSON body published for a notification. A detail too large for one SNS message (a load
 * with many rejected rows) is replaced by its JSON text cut to fit, marked `truncated`, so that
 * the notification is still delivered rather than refused by SNS.
 */
export function notificationMessage(pipeline: string, notification: Notification): string {
  const message: NotificationMessage = {
    pipeline,
    event: notification.event,
    component: notification.component,
    subject: notification.subject,
    detail: notification.detail,
  };
  const whole = JSON.stringify(message);
  if (Buffer.byteLength(whole) <= MAX_MESSAGE_BYTES) return whole;
  const detailText = JSON.stringify(notification.detail);
  const room = MAX_MESSAGE_BYTES - Buffer.byteLength(JSON.stringify({ ...message, detail: { truncated: true, text: '' } }));
  // Escaping makes the encoded size of a prefix differ from its length: search the longest prefix that fits.
  const fits = (length: number) => Buffer.byteLength(JSON.stringify(detailText.slice(0, length))) - 2 <= room;
  let low = 0;
  let high = detailText.length;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (fits(middle)) low = middle;
    else high = middle - 1;
  }
  const text = detailText.slice(0, low);
  return JSON.stringify({ ...message, detail: { truncated: true, text } });
}
