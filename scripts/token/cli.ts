/**
 * `npm run token -- --room R --name N --role moderator|participant|viewer [--ttl SECONDS] [--sub ID]`:
 * mints a join token with the server's AUTH_SECRET (from the environment, as the server reads
 * it). The last line of the output is the token alone, so that `| tail -n1` gives it to a
 * script. Exit code 2 for a wrong command line or no AUTH_SECRET.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ConfigError, loadConfig } from '../../config/index.js';
import { DisplayName, Role } from '../../protocol/index.js';
import { mintJoinToken } from '../../server/src/auth/JoinTokens.js';

function ttl(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0 || n > 366 * 86_400) throw new InvalidArgumentError('must be a whole number of seconds, 1 to 31622400');
  return n;
}

function displayName(text: string): string {
  const parsed = DisplayName.safeParse(text);
  if (!parsed.success) throw new InvalidArgumentError('must be 1-40 characters without control characters');
  return parsed.data;
}

function room(text: string): string {
  if (text.length === 0 || text.length > 256) throw new InvalidArgumentError('must be a room id or a pattern with *, at most 256 characters');
  return text;
}

async function main(): Promise<void> {
  const program = new Command('token')
    .description('Prints a join token (JWT, HS256 with AUTH_SECRET) for one room or a room pattern.')
    .requiredOption('--room <id>', 'room id, or a pattern where * stands for any characters (e.g. "team-*", "*")', room)
    .requiredOption('--name <name>', 'display name the peer carries in the room', displayName)
    .addOption(new Option('--role <role>', 'what the peer may do').choices(Role.options).makeOptionMandatory())
    .option('--ttl <seconds>', 'lifetime of the token', ttl, 3600)
    .option('--sub <id>', 'stable identity of the user (default: the name); a removed identity cannot rejoin for a while')
    .exitOverride();
  program.parse();
  const o = program.opts<{ room: string; name: string; role: Role; ttl: number; sub?: string }>();
  const secret = loadConfig().auth?.secret;
  if (!secret) {
    process.stderr.write('token: AUTH_SECRET is not set: set it to the server\'s secret (at least 32 characters)\n');
    process.exitCode = 2;
    return;
  }
  const token = await mintJoinToken(secret, { room: o.room, name: o.name, role: o.role, ttlS: o.ttl, ...(o.sub ? { sub: o.sub } : {}) });
  const expires = new Date(Date.now() + o.ttl * 1000).toISOString();
  process.stdout.write(`# room ${JSON.stringify(o.room)}, name ${JSON.stringify(o.name)}, role ${o.role}, expires ${expires}\n${token}\n`);
}

main().catch((error: unknown) => {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode === 0 ? 0 : 2;
    return;
  }
  process.stderr.write(`token: ${error instanceof ConfigError ? error.message : String(error)}\n`);
  process.exitCode = 2;
});
