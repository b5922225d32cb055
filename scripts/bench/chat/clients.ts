/** The parent side of the chat client processes (child.ts): fork, command, wait for the reply, stop. */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ChatReply, type ChatCommand } from './messages.js';

const ENTRY = fileURLToPath(new URL('./child.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

export type Reply<T extends ChatReply['type']> = Extract<ChatReply, { type: T }>;

export function nextReply<T extends ChatReply['type']>(child: ChildProcess, type: T, timeoutMs: number): Promise<Reply<T>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`chat client ${child.pid}: no ${type} in ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (raw: unknown) => {
      const r = ChatReply.safeParse(raw);
      if (r.success && r.data.type === type) done(undefined, r.data as Reply<T>);
    };
    const onExit = () => done(new Error(`chat client ${child.pid} exited`));
    const done = (error?: Error, value?: Reply<T>) => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve(value!);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** Sends a command and resolves with the reply it calls for. */
export function ask<T extends ChatReply['type']>(child: ChildProcess, command: ChatCommand, type: T, timeoutMs: number): Promise<Reply<T>> {
  const reply = nextReply(child, type, timeoutMs);
  child.send(command);
  return reply;
}

/** `count` client processes, once each is ready. */
export async function startChatClients(count: number): Promise<ChildProcess[]> {
  const children = Array.from({ length: count }, () =>
    fork(ENTRY, [], { execArgv: ['--import', TSX], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' }),
  );
  try {
    await Promise.all(children.map((c) => nextReply(c, 'ready', 30_000)));
  } catch (error) {
    await stopChatClients(children);
    throw error;
  }
  return children;
}

/** Disconnects the IPC channels (the clients close their sockets and exit) and waits for the exits. */
export async function stopChatClients(children: readonly ChildProcess[]): Promise<void> {
  for (const c of children) if (c.connected) c.disconnect();
  await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
}
