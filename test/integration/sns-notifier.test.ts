import { randomUUID } from 'node:crypto';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Notification } from '../../engine/ports/notifier.ts';
import { MAX_MESSAGE_BYTES, SnsNotifier } from '../../engine/ports/sns-notifier.ts';
import { awsClientConfig } from '../support/env.ts';

/** The SNS envelope an SQS subscriber receives (raw message delivery off). */
interface SnsEnvelope {
  Type: string;
  TopicArn: string;
  Subject?: string;
  Message: string;
  MessageAttributes?: Record<string, { Type: string; Value: string }>;
}

describe('SnsNotifier against moto', () => {
  const sns = new SNSClient(awsClientConfig());
  const sqs = new SQSClient(awsClientConfig());
  let topicArn = '';
  let queueUrl = '';

  beforeAll(async () => {
    const suffix = randomUUID().slice(0, 8);
    topicArn = (await sns.send(new CreateTopicCommand({ Name: `ingest-notify-${suffix}` }))).TopicArn!;
    queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `ingest-notify-${suffix}` }))).QueueUrl!;
    const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: queueArn }));
  });

  /** Reads the next `count` envelopes delivered to the subscribed queue. */
  async function delivered(count: number): Promise<SnsEnvelope[]> {
    const envelopes: SnsEnvelope[] = [];
    for (let attempt = 0; attempt < 10 && envelopes.length < count; attempt++) {
      const page = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      for (const message of page.Messages ?? []) envelopes.push(JSON.parse(message.Body!) as SnsEnvelope);
    }
    return envelopes;
  }

  it('publishes the subject, the notification with its pipeline as JSON, and filterable attributes', async () => {
    const notifier = new SnsNotifier(sns, topicArn);
    const notification: Notification = {
      event: 'load_failed',
      component: 'warehouse',
      subject: 'app-events: load of batch 12 into analytics.app_events failed',
      detail: { batch: 12, error: 'Invalid timestamp format', rows: [{ file: 's3://staging/a.json.gz', line: 3, column: 'occurred_at' }] },
    };

    await notifier.publish('app-events', notification);

    const [envelope] = await delivered(1);
    expect(envelope?.TopicArn).toBe(topicArn);
    expect(envelope?.Subject).toBe(notification.subject);
    expect(JSON.parse(envelope!.Message)).toEqual({ pipeline: 'app-events', ...notification });
    expect(envelope?.MessageAttributes).toMatchObject({
      event: { Type: 'String', Value: 'load_failed' },
      pipeline: { Type: 'String', Value: 'app-events' },
      component: { Type: 'String', Value: 'warehouse' },
    });
  });

  it('delivers a notification whose subject is too long or holds line breaks, with a subject SNS accepts', async () => {
    const notifier = new SnsNotifier(sns, topicArn);
    const subject = `load failed:\n${'é'.repeat(20)} ${'x'.repeat(200)}`;

    await notifier.publish('app-events', { event: 'load_failed', component: 'warehouse', subject, detail: {} });

    const [envelope] = await delivered(1);
    expect(envelope?.Subject?.length).toBeLessThanOrEqual(100);
    expect(envelope?.Subject).toMatch(/^load failed: \?{20} x+\.\.\.$/);
    expect(JSON.parse(envelope!.Message).subject).toBe(subject);
  });

  it('delivers a detail too large for one message cut to fit and marked truncated', async () => {
    const notifier = new SnsNotifier(sns, topicArn);
    const rows = Array.from({ length: 5000 }, (_, line) => ({ line, raw: `{"event_id":"${'z'.repeat(80)}"}` }));

    await notifier.publish('app-events', { event: 'load_failed', component: 'warehouse', subject: 'many rejected rows', detail: { rows } });

    const [envelope] = await delivered(1);
    expect(Buffer.byteLength(envelope!.Message)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    const message = JSON.parse(envelope!.Message);
    expect(message.detail.truncated).toBe(true);
    expect(JSON.stringify({ rows }).startsWith(message.detail.text)).toBe(true);
    expect(message.detail.text.length).toBeGreaterThan(MAX_MESSAGE_BYTES / 2);
  });

  it('rejects when the topic does not exist', async () => {
    const notifier = new SnsNotifier(sns, topicArn.replace(/[^:]+$/, `missing-${randomUUID().slice(0, 8)}`));

    await expect(notifier.publish('app-events', { event: 'load_succeeded', component: 'warehouse', subject: 'loaded', detail: {} })).rejects.toThrow();
  });
});
