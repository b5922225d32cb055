/**
 * One TURN Allocate over UDP, as a browser makes it, with werift's STUN message codec: an
 * unauthenticated request for the server's realm and nonce, then the request signed with the
 * long-term credential key. Reports the relayed address, or the server's error code: werift's
 * own TURN client turns a refusal into a retransmission timeout, which says nothing of why.
 */
import dgram from 'node:dgram';
import { classes, makeIntegrityKey, Message, methods, parseMessage } from 'werift';

/** REQUESTED-TRANSPORT for UDP (protocol 17 in the attribute's first byte). */
const UDP_TRANSPORT = 0x11000000;

export type AllocateResult = { relayed: [string, number] } | { error: number };

export async function turnAllocate(server: [string, number], username: string, password: string, timeoutMs = 3000): Promise<AllocateResult> {
  const socket = dgram.createSocket('udp4');
  const exchange = (request: Message) =>
    new Promise<Message>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.off('message', onMessage);
        reject(new Error(`no TURN answer from ${server.join(':')} in ${timeoutMs} ms`));
      }, timeoutMs);
      const onMessage = (data: Buffer) => {
        const answer = parseMessage(data);
        if (!answer || !answer.transactionId.equals(request.transactionId)) return;
        clearTimeout(timer);
        socket.off('message', onMessage);
        resolve(answer);
      };
      socket.on('message', onMessage);
      socket.send(request.bytes, server[1], server[0]);
    });
  try {
    const first = await exchange(new Message(methods.ALLOCATE, classes.REQUEST).setAttribute('REQUESTED-TRANSPORT', UDP_TRANSPORT));
    const realm = first.getAttributeValue('REALM') as string | undefined;
    const nonce = first.getAttributeValue('NONCE') as Buffer | undefined;
    if (first.messageClass !== classes.ERROR || !realm || !nonce) throw new Error('the TURN server asked for no credentials');
    const signed = new Message(methods.ALLOCATE, classes.REQUEST)
      .setAttribute('REQUESTED-TRANSPORT', UDP_TRANSPORT)
      .setAttribute('USERNAME', username)
      .setAttribute('REALM', realm)
      .setAttribute('NONCE', nonce)
      .addMessageIntegrity(makeIntegrityKey(username, realm, password));
    const answer = await exchange(signed);
    if (answer.messageClass === classes.RESPONSE) {
      const [ip, port] = answer.getAttributeValue('XOR-RELAYED-ADDRESS') as [string, number];
      return { relayed: [ip, port] };
    }
    return { error: (answer.getAttributeValue('ERROR-CODE') as [number, string])[0] };
  } finally {
    socket.close();
  }
}
