// Console passwords as scrypt hashes in the PHC string format ($scrypt$ln=17,r=8,p=1$salt$hash):
// node:crypto has scrypt, so no package is needed. N = 2^17, r = 8, p = 1 is OWASP's minimum
// for scrypt (128 MiB per hash; about half a second here), which is why logins are also
// rate-limited. Verification is constant-time and runs even for an unknown user.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

const LN = 17;
const R = 8;
const P = 1;
const KEYLEN = 32;
const FORMAT = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');

function derive(password: string, salt: Buffer, ln: number, r: number, p: number, len: number): Promise<Buffer> {
  // maxmem: Node's 32 MiB default is below what N = 2^15 and up need.
  return new Promise((resolve, reject) => scrypt(password.normalize('NFKC'), salt, len, { N: 2 ** ln, r, p, maxmem: 256 * 2 ** ln * r }, (err, key) => (err ? reject(err) : resolve(key))));
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  return `$scrypt$ln=${LN},r=${R},p=${P}$${b64(salt)}$${b64(await derive(password, salt, LN, R, P, KEYLEN))}`;
}

/** A hash of a random password: what an unknown user's attempt is checked against. */
const DUMMY = `$scrypt$ln=${LN},r=${R},p=${P}$${b64(randomBytes(16))}$${b64(randomBytes(KEYLEN))}`;

export async function verifyPassword(password: string, stored: string | undefined): Promise<boolean> {
  const m = FORMAT.exec(stored ?? DUMMY) ?? FORMAT.exec(DUMMY)!;
  const [ln, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // A tampered hash must not make the server derive with absurd parameters.
  if (ln < 10 || ln > 20 || r < 1 || r > 32 || p < 1 || p > 16) return false;
  const expected = Buffer.from(m[5]!, 'base64');
  const actual = await derive(password, Buffer.from(m[4]!, 'base64'), ln, r, p, expected.length);
  return stored !== undefined && actual.length === expected.length && timingSafeEqual(actual, expected);
}
