// The console's users, from the config: a scrypt hash and a role each (viewer reads,
// operator also acts). Checked in constant time; an unknown name costs the same as a
// wrong password.
import { verifyPassword, type Config } from '@hookyard/core';

export type Role = 'viewer' | 'operator';
export interface User { name: string; role: Role }

export class Users {
  private readonly byName: Map<string, { passwordHash: string; role: Role }>;

  constructor(config: Config) {
    this.byName = new Map(config.console.users.map((u) => [u.name, { passwordHash: u.passwordHash, role: u.role }]));
  }

  get size(): number {
    return this.byName.size;
  }

  /** The user when the password is theirs; undefined otherwise (and for an unknown name). */
  async login(name: string, password: string): Promise<User | undefined> {
    const u = this.byName.get(name);
    const ok = await verifyPassword(password, u?.passwordHash);
    return ok && u ? { name, role: u.role } : undefined;
  }

  /** A session's user as the config has them now (a user removed or demoted since is not kept). */
  current(name: string | undefined): User | undefined {
    const u = name === undefined ? undefined : this.byName.get(name);
    return u && name !== undefined ? { name, role: u.role } : undefined;
  }
}
