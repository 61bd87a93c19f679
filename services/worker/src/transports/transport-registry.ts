import { openSecretWithAny } from '@outbound/secrets'
import type { OutgoingServer } from '@outbound/store'
import type { MessageTransport } from './message-transport.js'
import { type ConnectionLeases, createSmtpTransport } from './smtp-transport.js'

export type TransportRegistry = {
  /** The transport of a server (null: the built-in default server), built on first use. */
  forServer(server: OutgoingServer | null): MessageTransport
  closeAll(): Promise<void>
}

/** Thrown when a server's password cannot be read; a temporary failure until the key is set. */
export class PasswordUnavailableError extends Error {}

/**
 * One pooled transport per outgoing server, rebuilt when its connection settings change (the old
 * one finishes its sends in flight and closes its connections).
 */
export function createTransportRegistry(options: {
  defaultTransport: MessageTransport
  secretKey: Buffer | undefined
  /** Keys being rotated out (OUTBOUND_SECRET_KEY_PREVIOUS): still tried after the current one. */
  previousSecretKeys?: readonly Buffer[]
  extraCa?: Buffer
  /** A server's connection leases (caps its connections across processes), when shared. */
  leases?: (server: OutgoingServer) => ConnectionLeases
  /** This process, as the holder of its leases. */
  holder?: string
}): TransportRegistry {
  const byServer = new Map<string, { fingerprint: string; transport: MessageTransport }>()

  function password(server: OutgoingServer): string | null {
    if (server.passwordSealed === null) return null
    if (options.secretKey === undefined) {
      throw new PasswordUnavailableError(
        `server ${server.name} has a password, but OUTBOUND_SECRET_KEY is not set`,
      )
    }
    try {
      return openSecretWithAny(server.passwordSealed, [
        options.secretKey,
        ...(options.previousSecretKeys ?? []),
      ])
    } catch (err) {
      throw new PasswordUnavailableError(
        `the password of server ${server.name} does not open with OUTBOUND_SECRET_KEY`,
        {
          cause: err,
        },
      )
    }
  }

  return {
    forServer(server) {
      if (server === null) return options.defaultTransport
      const { host, port, security, username, passwordSealed, maxConnections } = server
      const fingerprint = JSON.stringify([
        host,
        port,
        security,
        username,
        passwordSealed,
        maxConnections,
      ])
      const existing = byServer.get(server.id)
      if (existing?.fingerprint === fingerprint) return existing.transport
      const transport = createSmtpTransport(
        {
          host,
          port,
          security,
          username,
          password: password(server),
          maxConnections,
          ...(options.extraCa === undefined ? {} : { ca: options.extraCa }),
        },
        {
          ...(options.leases === undefined ? {} : { leases: options.leases(server) }),
          ...(options.holder === undefined ? {} : { holder: options.holder }),
        },
      )
      byServer.set(server.id, { fingerprint, transport })
      if (existing !== undefined) void existing.transport.close()
      return transport
    },
    async closeAll() {
      await Promise.all([...byServer.values()].map(({ transport }) => transport.close()))
      byServer.clear()
      await options.defaultTransport.close()
    },
  }
}
