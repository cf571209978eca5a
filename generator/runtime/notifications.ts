/**
 * Notifications: the function publishes load and dead-letter events to the SNS topic the spec
 * names, or to one the stack creates (`notifications.create`). Its ARN reaches the function as
 * `INGEST_NOTIFICATION_TOPIC`, and the role may publish to that topic only.
 */
import { NOTIFICATION_TOPIC_VARIABLE } from '../../engine/function-environment.ts';
import type { CfnValue, Contribution, RuntimeGenerator } from '../contribution.ts';

export const NOTIFICATION_TOPIC_ID = 'NotificationTopic';

export const notifications: RuntimeGenerator = {
  feature: 'notifications',
  contribute({ spec, value }): Contribution {
    const settings = spec.notifications;
    if (settings === undefined) return {};
    const publish = (topic: CfnValue): Contribution => ({
      environment: { [NOTIFICATION_TOPIC_VARIABLE]: topic },
      statements: [{ Sid: 'PublishNotifications', Effect: 'Allow', Action: ['sns:Publish'], Resource: [topic] }],
    });
    if (settings.topic !== undefined) return publish(value(settings.topic));
    if (!settings.create) return {};
    return {
      ...publish({ Ref: NOTIFICATION_TOPIC_ID }),
      resources: {
        [NOTIFICATION_TOPIC_ID]: {
          Type: 'AWS::SNS::Topic',
          Properties: { DisplayName: `Ingest ${spec.name}`.slice(0, 100) },
        },
      },
      outputs: { NotificationTopicArn: { Description: `Topic of the pipeline's ${settings.on.join(', ')} notifications`, Value: { Ref: NOTIFICATION_TOPIC_ID } } },
      notes: [`the stack creates the notification topic (output NotificationTopicArn); subscribe to it to receive ${settings.on.join(', ')} notifications`],
    };
  },
};
