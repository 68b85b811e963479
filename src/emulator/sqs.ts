// The app's notification queue, spoken in the protocol `@aws-sdk/client-sqs` uses: AWS JSON 1.0
// (`POST /`, `X-Amz-Target: AmazonSQS.<Operation>`, `application/x-amz-json-1.0`) with SQS's
// query-compatible error header. Amazon delivers SP-API notifications by sending their JSON to the
// SQS queue registered for the application; the emulator plays that queue, on its own clock.
import { createHash, randomUUID } from 'node:crypto';
import { BadRequest, readText } from './http.js';
import type { EmulatorState } from './state.js';

/** The AWS account the emulator's queues live in (a placeholder, as AWS's own examples use). */
export const SQS_ACCOUNT_ID = '000000000000';
/** The queue every application is enrolled with unless its config names another (or none). */
export const DEFAULT_NOTIFICATION_QUEUE = 'spapi-auth-notifications';

/** Amazon SQS defaults for a new standard queue (the SQS API reference, CreateQueue attributes). */
export const QUEUE_DEFAULTS = Object.freeze({
  visibilityTimeoutS: 30,
  retentionS: 345_600, // four days
  maxWaitS: 20,
  maxVisibilityS: 43_200, // twelve hours
  maxMessages: 10,
});

/** One message in a queue: plain data, so the emulator's state stays JSON. */
export interface QueueMessage {
  readonly messageId: string;
  readonly body: string;
  readonly md5OfBody: string;
  /** Epoch ms (emulator clock) it was sent. */
  readonly sentAt: number;
  /** Epoch ms (emulator clock) from which it can be received: later than now while in flight. */
  visibleAt: number;
  receiveCount: number;
  firstReceivedAt: number | null;
  /** The receipt handle of its latest receive: only this one deletes it or changes its visibility. */
  receiptHandle: string | null;
}

/** Queue name → its messages, oldest first. */
export type Queues = Record<string, QueueMessage[]>;

/** The queue URL form: `<origin>/<account>/<queue name>`. */
export function queueUrl(origin: string, name: string): string {
  return `${origin.replace(/\/+$/, '')}/${SQS_ACCOUNT_ID}/${name}`;
}

// Long polls waiting on a state, woken when a message is sent, the clock moves or the state resets.
// Not state: a waiter is a live request, nothing to keep.
const waiters = new WeakMap<EmulatorState, Set<() => void>>();

/** Wakes every long poll on `state` so it looks at its queue again. */
export function wakeQueues(state: EmulatorState): void {
  for (const wake of waiters.get(state) ?? []) wake();
}

/** Sends `body` to the queue `name` (created if need be) and wakes its long polls. */
export function sendToQueue(state: EmulatorState, name: string, body: string): QueueMessage {
  const message: QueueMessage = {
    messageId: randomUUID(),
    body,
    md5OfBody: createHash('md5').update(body).digest('hex'),
    sentAt: state.now(),
    visibleAt: state.now(),
    receiveCount: 0,
    firstReceivedAt: null,
    receiptHandle: null,
  };
  (state.queues[name] ??= []).push(message);
  wakeQueues(state);
  return message;
}

/** An SQS error: JSON 1.0 `__type`/`message`, and the query-compatible code the SDK maps from. */
class SqsError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly queryCode: string,
    message: string,
    readonly fault: 'Sender' | 'Receiver' = 'Sender',
  ) {
    super(message);
  }
}

const nonExistentQueue = () =>
  new SqsError(
    400,
    'com.amazonaws.sqs#QueueDoesNotExist',
    'AWS.SimpleQueueService.NonExistentQueue',
    'The specified queue does not exist.',
  );

const invalidParameter = (message: string) =>
  new SqsError(400, 'com.amazonaws.sqs#InvalidParameterValue', 'InvalidParameterValue', message);

function sqsErrorResponse(err: SqsError): Response {
  return new Response(JSON.stringify({ __type: err.type, message: err.message }), {
    status: err.status,
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amzn-requestid': randomUUID(),
      'x-amzn-query-error': `${err.queryCode};${err.fault}`,
    },
  });
}

function sqsResponse(body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status: 200,
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': randomUUID() },
  });
}

/** The region a SigV4-signed request names (`Credential=<key>/<date>/<region>/sqs/aws4_request`). */
function signedRegion(request: Request): string {
  const auth = request.headers.get('authorization') ?? '';
  return /Credential=[^/,\s]+\/\d{8}\/([a-z0-9-]+)\/sqs\//.exec(auth)?.[1] ?? 'us-east-1';
}

/** The queue a `QueueUrl` names: its path is `/<account>/<name>`, whatever the origin. */
function queueOf(
  state: EmulatorState,
  input: Record<string, unknown>,
): { name: string; messages: QueueMessage[] } {
  const url = input.QueueUrl;
  if (typeof url !== 'string' || url === '')
    throw invalidParameter('Value for parameter QueueUrl is invalid.');
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    throw invalidParameter(`Value ${url} for parameter QueueUrl is invalid. Reason: Not a URL.`);
  }
  const match = /^\/(\d{12})\/([A-Za-z0-9_-]{1,80})\/?$/.exec(path);
  if (!match || match[1] !== SQS_ACCOUNT_ID) throw nonExistentQueue();
  const messages = state.queues[match[2]!];
  if (messages === undefined) throw nonExistentQueue();
  return { name: match[2]!, messages };
}

function intParam(input: Record<string, unknown>, name: string, min: number, max: number, reason: string) {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidParameter(`Value ${String(value)} for parameter ${name} is invalid. Reason: ${reason}`);
  }
  return value;
}

/** Drops messages past the queue's retention period (four days, Amazon's default). */
function expire(state: EmulatorState, messages: QueueMessage[]): void {
  const oldest = state.now() - QUEUE_DEFAULTS.retentionS * 1000;
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i]!.sentAt <= oldest) messages.splice(i, 1);
}

// A receipt handle names its queue and message, like SQS's (opaque to clients), plus a nonce per receive.
function makeHandle(queue: string, messageId: string): string {
  return Buffer.from(JSON.stringify([queue, messageId, randomUUID()])).toString('base64url');
}

function readHandle(input: Record<string, unknown>): { queue: string; messageId: string; handle: string } {
  const handle = input.ReceiptHandle;
  if (typeof handle !== 'string' || handle === '')
    throw invalidParameter('Value for parameter ReceiptHandle is invalid.');
  const invalid = new SqsError(
    404,
    'com.amazonaws.sqs#ReceiptHandleIsInvalid',
    'ReceiptHandleIsInvalid',
    `The input receipt handle "${handle.slice(0, 200)}" is not a valid receipt handle.`,
  );
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(handle, 'base64url').toString('utf8'));
  } catch {
    throw invalid;
  }
  if (!Array.isArray(parsed) || parsed.length !== 3 || !parsed.every((p) => typeof p === 'string'))
    throw invalid;
  return { queue: parsed[0] as string, messageId: parsed[1] as string, handle };
}

const SYSTEM_ATTRIBUTES = [
  'ApproximateReceiveCount',
  'ApproximateFirstReceiveTimestamp',
  'SentTimestamp',
  'SenderId',
] as const;

function requestedAttributes(input: Record<string, unknown>): Set<string> {
  const names = [input.AttributeNames, input.MessageSystemAttributeNames].flatMap((v) =>
    Array.isArray(v) ? v.filter((n): n is string => typeof n === 'string') : [],
  );
  return names.includes('All') ? new Set(SYSTEM_ATTRIBUTES) : new Set(names);
}

function take(
  state: EmulatorState,
  name: string,
  messages: QueueMessage[],
  max: number,
  visibilityS: number,
  attributes: Set<string>,
): Record<string, unknown>[] {
  expire(state, messages);
  const now = state.now();
  const out: Record<string, unknown>[] = [];
  for (const m of messages) {
    if (out.length >= max) break;
    if (m.visibleAt > now) continue;
    m.receiveCount += 1;
    m.firstReceivedAt ??= now;
    m.visibleAt = now + visibilityS * 1000;
    m.receiptHandle = makeHandle(name, m.messageId);
    const attrs: Record<string, string> = {};
    if (attributes.has('ApproximateReceiveCount')) attrs.ApproximateReceiveCount = String(m.receiveCount);
    if (attributes.has('ApproximateFirstReceiveTimestamp'))
      attrs.ApproximateFirstReceiveTimestamp = String(m.firstReceivedAt);
    if (attributes.has('SentTimestamp')) attrs.SentTimestamp = String(m.sentAt);
    if (attributes.has('SenderId')) attrs.SenderId = SP_API_SENDER;
    out.push({
      MessageId: m.messageId,
      ReceiptHandle: m.receiptHandle,
      MD5OfBody: m.md5OfBody,
      Body: m.body,
      ...(Object.keys(attrs).length > 0 ? { Attributes: attrs } : {}),
    });
  }
  return out;
}

/** SP-API's AWS account, which sends the notifications (the queue policy must allow it). */
const SP_API_SENDER = '437568002678';

/** Waits up to `ms` for a wake-up, or until the next in-flight message becomes visible. */
function waitForChange(state: EmulatorState, messages: QueueMessage[], ms: number, signal: AbortSignal) {
  const now = state.now();
  const nextVisible = Math.min(...messages.map((m) => (m.visibleAt > now ? m.visibleAt - now : Infinity)));
  const wait = Math.min(ms, nextVisible);
  return new Promise<void>((resolve) => {
    const set = waiters.get(state) ?? new Set();
    waiters.set(state, set);
    const done = () => {
      clearTimeout(timer);
      set.delete(done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(1, wait));
    set.add(done);
    signal.addEventListener('abort', done, { once: true });
  });
}

async function receiveMessage(
  state: EmulatorState,
  input: Record<string, unknown>,
  signal: AbortSignal,
): Promise<Response> {
  const { name } = queueOf(state, input);
  const max =
    intParam(
      input,
      'MaxNumberOfMessages',
      1,
      QUEUE_DEFAULTS.maxMessages,
      'Must be between 1 and 10, if provided.',
    ) ?? 1;
  const visibility =
    intParam(
      input,
      'VisibilityTimeout',
      0,
      QUEUE_DEFAULTS.maxVisibilityS,
      'Must be between 0 and 43200, if provided.',
    ) ?? QUEUE_DEFAULTS.visibilityTimeoutS;
  const waitS =
    intParam(input, 'WaitTimeSeconds', 0, QUEUE_DEFAULTS.maxWaitS, 'Must be >= 0 and <= 20, if provided.') ??
    0;
  const attributes = requestedAttributes(input);
  // Real time bounds the poll (the client's socket waits); the emulator's clock decides visibility.
  const deadline = Date.now() + waitS * 1000;
  for (;;) {
    state.deliverDueNotices(); // the real clock may have reached one during the wait
    const messages = state.queues[name];
    if (messages === undefined) throw nonExistentQueue(); // a reset or re-registration removed it
    const got = take(state, name, messages, max, visibility, attributes);
    const left = deadline - Date.now();
    if (got.length > 0 || left <= 0 || signal.aborted)
      return sqsResponse(got.length > 0 ? { Messages: got } : {});
    await waitForChange(state, messages, left, signal);
  }
}

function findMessage(state: EmulatorState, name: string, messageId: string): QueueMessage | undefined {
  return state.queues[name]?.find((m) => m.messageId === messageId);
}

function deleteMessage(state: EmulatorState, input: Record<string, unknown>): Response {
  const { name, messages } = queueOf(state, input);
  const h = readHandle(input);
  if (h.queue !== name) throw readHandleMismatch(h.handle);
  // SQS: an earlier receipt handle of a message received again since "succeeds, but the message
  // will not be deleted"; a message already deleted is no error either.
  const index = messages.findIndex((m) => m.messageId === h.messageId && m.receiptHandle === h.handle);
  if (index >= 0) messages.splice(index, 1);
  return sqsResponse({});
}

function readHandleMismatch(handle: string): SqsError {
  return new SqsError(
    404,
    'com.amazonaws.sqs#ReceiptHandleIsInvalid',
    'ReceiptHandleIsInvalid',
    `The input receipt handle "${handle.slice(0, 200)}" is not a valid receipt handle.`,
  );
}

function changeMessageVisibility(state: EmulatorState, input: Record<string, unknown>): Response {
  const { name } = queueOf(state, input);
  const h = readHandle(input);
  if (h.queue !== name) throw readHandleMismatch(h.handle);
  const timeout = intParam(
    input,
    'VisibilityTimeout',
    0,
    QUEUE_DEFAULTS.maxVisibilityS,
    'Must be between 0 and 43200.',
  );
  if (timeout === undefined) throw invalidParameter('Value for parameter VisibilityTimeout is invalid.');
  const message = findMessage(state, name, h.messageId);
  if (!message || message.receiptHandle !== h.handle || message.visibleAt <= state.now()) {
    throw new SqsError(
      400,
      'com.amazonaws.sqs#MessageNotInflight',
      'AWS.SimpleQueueService.MessageNotInflight',
      'The message referred to is not in flight.',
    );
  }
  message.visibleAt = state.now() + timeout * 1000;
  wakeQueues(state); // a timeout of 0 makes it visible now
  return sqsResponse({});
}

function getQueueUrl(state: EmulatorState, input: Record<string, unknown>, origin: string): Response {
  const name = input.QueueName;
  if (typeof name !== 'string' || state.queues[name] === undefined) throw nonExistentQueue();
  const owner = input.QueueOwnerAWSAccountId;
  if (owner !== undefined && owner !== SQS_ACCOUNT_ID) throw nonExistentQueue();
  return sqsResponse({ QueueUrl: queueUrl(origin, name) });
}

function getQueueAttributes(state: EmulatorState, input: Record<string, unknown>, region: string): Response {
  const { name, messages } = queueOf(state, input);
  expire(state, messages);
  const now = state.now();
  const visible = messages.filter((m) => m.visibleAt <= now).length;
  const all: Record<string, string> = {
    QueueArn: `arn:aws:sqs:${region}:${SQS_ACCOUNT_ID}:${name}`,
    ApproximateNumberOfMessages: String(visible),
    ApproximateNumberOfMessagesNotVisible: String(messages.length - visible),
    ApproximateNumberOfMessagesDelayed: '0',
    VisibilityTimeout: String(QUEUE_DEFAULTS.visibilityTimeoutS),
    MessageRetentionPeriod: String(QUEUE_DEFAULTS.retentionS),
    ReceiveMessageWaitTimeSeconds: '0',
    DelaySeconds: '0',
    MaximumMessageSize: '262144',
    SqsManagedSseEnabled: 'true',
  };
  const names = Array.isArray(input.AttributeNames) ? (input.AttributeNames as unknown[]) : [];
  const wanted = names.includes('All')
    ? Object.keys(all)
    : names.filter((n): n is string => typeof n === 'string');
  const attributes = Object.fromEntries(wanted.filter((n) => n in all).map((n) => [n, all[n]!]));
  return sqsResponse(Object.keys(attributes).length > 0 ? { Attributes: attributes } : {});
}

/** The operations served; anything else is `UnsupportedOperation` (and counted as `<other>`). */
export const SQS_OPERATIONS: ReadonlySet<string> = new Set([
  'ReceiveMessage',
  'DeleteMessage',
  'ChangeMessageVisibility',
  'GetQueueUrl',
  'GetQueueAttributes',
]);

/** The SQS operation a request asks for (`X-Amz-Target: AmazonSQS.<name>`), if it is one. */
export function sqsOperation(request: Request): string | undefined {
  const target = request.headers.get('x-amz-target');
  return request.method === 'POST' && target?.startsWith('AmazonSQS.') ? target.slice(10) : undefined;
}

/** Answers one SQS request; `origin` is the one the client reached (for GetQueueUrl). */
export async function handleSqs(
  request: Request,
  operation: string,
  origin: string,
  state: EmulatorState,
  signal: AbortSignal,
): Promise<Response> {
  try {
    let input: Record<string, unknown>;
    try {
      const text = await readText(request, state.maxBodyBytes);
      const value: unknown = text.trim() === '' ? {} : JSON.parse(text);
      if (value === null || typeof value !== 'object' || Array.isArray(value))
        throw new Error('not an object');
      input = value as Record<string, unknown>;
    } catch (err) {
      if (err instanceof BadRequest && err.status === 413)
        throw new SqsError(
          413,
          'com.amazonaws.sqs#RequestEntityTooLarge',
          'RequestEntityTooLarge',
          err.message,
        );
      throw new SqsError(
        400,
        'com.amazon.coral.service#SerializationException',
        'SerializationException',
        'The request body is not a JSON object.',
      );
    }
    switch (operation) {
      case 'ReceiveMessage':
        return await receiveMessage(state, input, signal);
      case 'DeleteMessage':
        return deleteMessage(state, input);
      case 'ChangeMessageVisibility':
        return changeMessageVisibility(state, input);
      case 'GetQueueUrl':
        return getQueueUrl(state, input, origin);
      case 'GetQueueAttributes':
        return getQueueAttributes(state, input, signedRegion(request));
      default:
        // Amazon owns the queue's other side: the app only receives from it.
        throw new SqsError(
          400,
          'com.amazonaws.sqs#UnsupportedOperation',
          'AWS.SimpleQueueService.UnsupportedOperation',
          `The emulator's notification queue does not support ${operation.slice(0, 100)}.`,
        );
    }
  } catch (err) {
    if (err instanceof SqsError) return sqsErrorResponse(err);
    throw err;
  }
}
