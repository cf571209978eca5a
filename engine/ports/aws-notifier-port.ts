/**
 * The notifier port of a deployed function, apart from `aws-ports.ts` so that the bundle of a spec
 * without notifications leaves out the SNS client (docs/decisions/0049-per-spec-bundles.md).
 */
import { SNSClient } from '@aws-sdk/client-sns';
import type { Notifier } from './notifier.ts';
import { SnsNotifier } from './sns-notifier.ts';

/** An `SnsNotifier` on `topic`, through `client` or one made from the environment. */
export function notifierPort(topic: string, client: SNSClient = new SNSClient({})): Notifier {
  return new SnsNotifier(client, topic);
}
