// The emulator's notification queue, driven by the AWS SDK itself (`@aws-sdk/client-sqs`, unchanged),
// pointed at the emulator's port: long poll, delete, visibility on the emulator's clock, SQS's errors.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  MessageNotInflight,
  QueueDoesNotExist,
  ReceiptHandleIsInvalid,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
  SQSServiceException,
} from '@aws-sdk/client-sqs';
import {
  DEFAULT_NOTIFICATION_QUEUE,
  createControlClient,
  startEmulator,
  type EmulatorNotification,
  type RunningEmulator,
} from '../../src/emulator/index.js';
import { APP, grantless } from './helpers.js';

let server: RunningEmulator;
let sqs: SQSClient;
let queue: string;

before(async () => {
  server = await startEmulator({ port: 0 });
  sqs = new SQSClient({
    endpoint: server.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'emulator', secretAccessKey: 'emulator' },
    maxAttempts: 1, // an error reaches the test as the emulator sent it, not after retries
  });
  queue = (await sqs.send(new GetQueueUrlCommand({ QueueName: DEFAULT_NOTIFICATION_QUEUE }))).QueueUrl!;
});
after(async () => {
  sqs.destroy();
  await server.close();
});
beforeEach(() => server.emulator.control.reset());

// Over the port, so the URLs it shows are the port's.
const control = () => createControlClient(server.url);

test('GetQueueUrl names the queue as <origin>/<account>/<name>; GetQueueAttributes counts messages', async () => {
  assert.equal(queue, `${server.url}/000000000000/${DEFAULT_NOTIFICATION_QUEUE}`);
  assert.equal((await control().queues())[DEFAULT_NOTIFICATION_QUEUE]?.url, queue);
  await control().secretExpiry();
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queue, AttributeNames: ['All'] }),
  );
  assert.equal(Attributes?.ApproximateNumberOfMessages, '1');
  assert.equal(Attributes?.ApproximateNumberOfMessagesNotVisible, '0');
  assert.equal(Attributes?.VisibilityTimeout, '30');
  assert.equal(Attributes?.QueueArn, `arn:aws:sqs:us-east-1:000000000000:${DEFAULT_NOTIFICATION_QUEUE}`);
});

test('a long poll returns as soon as a notification arrives; the body is the notification as Amazon sends it', async () => {
  let settled = false;
  const polling = sqs
    .send(new ReceiveMessageCommand({ QueueUrl: queue, WaitTimeSeconds: 20, MaxNumberOfMessages: 10 }))
    .finally(() => (settled = true));
  // Let the request reach the emulator and start waiting on an empty queue.
  for (let i = 0; i < 50 && (await control().stats()).requests === 0; i++)
    await new Promise((r) => setTimeout(r, 10));
  assert.equal(settled, false, 'the poll waits on an empty queue');

  // A real rotation, over the port: Amazon sends the new secret to the app's queue.
  const fetchPort = (input: string | URL | Request, init?: RequestInit) =>
    fetch(String(input).replace('https://api.amazon.com', server.url), {
      ...init,
      headers: { ...(init?.headers as Record<string, string>), 'x-amzn-emulator-host': 'api.amazon.com' },
    });
  const token = await grantless(fetchPort, 'sellingpartnerapi::client_credential:rotation');
  const rotated = await fetch(`${server.url}/applications/2023-11-30/clientSecret`, {
    method: 'POST',
    headers: { 'x-amz-access-token': token, 'x-amzn-emulator-host': 'sellingpartnerapi-na.amazon.com' },
  });
  assert.equal(rotated.status, 204);

  // Had the poll not returned early, it would come back empty after 20 s: it carries the message.
  const { Messages } = await polling;
  assert.equal(Messages?.length, 1);
  const body = JSON.parse(Messages![0]!.Body!) as EmulatorNotification;
  assert.deepEqual(body, (await control().notifications())[0]);
  assert.equal(body.notificationType, 'APPLICATION_OAUTH_CLIENT_NEW_SECRET');
  assert.equal(body.notificationMetadata.applicationId, APP.id);
  assert.deepEqual(Object.keys(body.payload.applicationOAuthClientNewSecret as object).sort(), [
    'clientId',
    'newClientSecret',
    'newClientSecretExpiryTime',
    'oldClientSecretExpiryTime',
  ]);
  // The SDK checked MD5OfBody against the body (it throws on a mismatch); the id and handle are set.
  assert.ok(Messages![0]!.MessageId && Messages![0]!.ReceiptHandle);
});

test('visibility runs on the emulator clock: an undeleted message comes back; a deleted one never does', async () => {
  await control().secretExpiry({ expiryTime: '2027-01-01T00:00:00.000Z' });
  const receive = () =>
    sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queue,
        VisibilityTimeout: 60,
        MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SenderId'],
      }),
    );
  const first = (await receive()).Messages![0]!;
  assert.equal(first.Attributes?.ApproximateReceiveCount, '1');
  assert.equal(first.Attributes?.SenderId, '437568002678', "SP-API's AWS account sends it");
  assert.equal((await receive()).Messages, undefined, 'in flight: not delivered again');
  assert.equal((await control().queues())[DEFAULT_NOTIFICATION_QUEUE]?.in_flight, 1);

  await control().advance(61);
  const second = (await receive()).Messages![0]!;
  assert.equal(second.MessageId, first.MessageId, 'redelivered once the visibility timeout passed');
  assert.equal(second.Attributes?.ApproximateReceiveCount, '2');
  assert.notEqual(second.ReceiptHandle, first.ReceiptHandle);

  // SQS: an earlier receipt handle "succeeds, but the message will not be deleted".
  await sqs.send(new DeleteMessageCommand({ QueueUrl: queue, ReceiptHandle: first.ReceiptHandle! }));
  assert.equal((await control().queues())[DEFAULT_NOTIFICATION_QUEUE]?.messages, 1);
  await sqs.send(new DeleteMessageCommand({ QueueUrl: queue, ReceiptHandle: second.ReceiptHandle! }));
  assert.equal((await control().queues())[DEFAULT_NOTIFICATION_QUEUE]?.messages, 0);
  await control().advance(3600);
  assert.equal((await receive()).Messages, undefined, 'a deleted message is not redelivered');
  // Deleting again is no error, as on SQS.
  await sqs.send(new DeleteMessageCommand({ QueueUrl: queue, ReceiptHandle: second.ReceiptHandle! }));
});

test('a long poll also returns when the clock makes an in-flight message visible again', async () => {
  await control().secretExpiry();
  const [m] = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: queue, VisibilityTimeout: 600 })))
    .Messages!;
  const polling = sqs.send(new ReceiveMessageCommand({ QueueUrl: queue, WaitTimeSeconds: 20 }));
  await new Promise((r) => setTimeout(r, 50));
  await control().advance(601);
  assert.equal((await polling).Messages?.[0]?.MessageId, m!.MessageId);
});

test('ChangeMessageVisibility: 0 makes it visible now, a longer one holds it; not in flight is refused', async () => {
  await control().secretExpiry();
  const [m] = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: queue }))).Messages!;
  await sqs.send(
    new ChangeMessageVisibilityCommand({
      QueueUrl: queue,
      ReceiptHandle: m!.ReceiptHandle!,
      VisibilityTimeout: 0,
    }),
  );
  const [again] = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: queue, VisibilityTimeout: 10 })))
    .Messages!;
  assert.equal(again!.MessageId, m!.MessageId);
  await sqs.send(
    new ChangeMessageVisibilityCommand({
      QueueUrl: queue,
      ReceiptHandle: again!.ReceiptHandle!,
      VisibilityTimeout: 3600,
    }),
  );
  await control().advance(600);
  assert.equal((await sqs.send(new ReceiveMessageCommand({ QueueUrl: queue }))).Messages, undefined);
  await control().advance(3001);
  await assert.rejects(
    sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: queue,
        ReceiptHandle: again!.ReceiptHandle!,
        VisibilityTimeout: 5,
      }),
    ),
    (err) => err instanceof MessageNotInflight,
  );
});

test("SQS's errors: unknown queue, invalid receipt handle, out-of-range parameters, operations Amazon owns", async () => {
  const other = `${server.url}/000000000000/no-such-queue`;
  await assert.rejects(sqs.send(new ReceiveMessageCommand({ QueueUrl: other })), (err) => {
    assert.ok(err instanceof QueueDoesNotExist);
    assert.equal(err.$metadata.httpStatusCode, 400);
    assert.equal(err.message, 'The specified queue does not exist.');
    return true;
  });
  await assert.rejects(sqs.send(new GetQueueUrlCommand({ QueueName: 'no-such-queue' })), QueueDoesNotExist);
  await assert.rejects(
    sqs.send(new DeleteMessageCommand({ QueueUrl: queue, ReceiptHandle: 'not-a-handle' })),
    (err) => err instanceof ReceiptHandleIsInvalid && err.$metadata.httpStatusCode === 404,
  );
  for (const input of [{ MaxNumberOfMessages: 11 }, { WaitTimeSeconds: 21 }, { VisibilityTimeout: -1 }]) {
    await assert.rejects(sqs.send(new ReceiveMessageCommand({ QueueUrl: queue, ...input })), (err) => {
      assert.ok(err instanceof SQSServiceException);
      assert.equal(err.name, 'InvalidParameterValue');
      assert.match(err.message, /^Value -?\d+ for parameter \w+ is invalid\. Reason: /);
      return true;
    });
  }
  await assert.rejects(sqs.send(new SendMessageCommand({ QueueUrl: queue, MessageBody: 'x' })), (err) => {
    assert.ok(err instanceof SQSServiceException);
    assert.equal(err.name, 'UnsupportedOperation');
    return true;
  });
  const stats = await control().stats();
  assert.equal(stats.sqs.ReceiveMessage?.['400'], 4);
  assert.equal(stats.sqs['<other>']?.['400'], 1);
});

test('messages older than the queue retention period (four days) are gone; DELETE notifications empties the queue', async () => {
  await control().secretExpiry();
  await control().advance(4 * 86_400);
  assert.equal((await sqs.send(new ReceiveMessageCommand({ QueueUrl: queue }))).Messages, undefined);
  await control().secretExpiry();
  await fetch(`${server.url}/__emulator/notifications`, { method: 'DELETE' });
  assert.equal((await sqs.send(new ReceiveMessageCommand({ QueueUrl: queue }))).Messages, undefined);
});

test('an sqs fault answers ReceiveMessage like a broken queue endpoint', async () => {
  await control().fault({ target: 'sqs', path: 'ReceiveMessage', status: 503 });
  await control().secretExpiry();
  await assert.rejects(sqs.send(new ReceiveMessageCommand({ QueueUrl: queue })), (err) => {
    assert.ok(err instanceof SQSServiceException);
    assert.equal(err.$metadata.httpStatusCode, 503);
    return true;
  });
  assert.equal((await sqs.send(new ReceiveMessageCommand({ QueueUrl: queue }))).Messages?.length, 1);
});
