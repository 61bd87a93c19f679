import { createServer } from 'node:net'

/** Whether `host:port` can be listened on right now (it is closed again before this resolves). */
export async function isPortFree(host: string, port: number): Promise<boolean> {
  const server = createServer()
  return await new Promise<boolean>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') resolve(false)
      else reject(new Error(`cannot listen on ${host}:${port}: ${err.message}`, { cause: err }))
    })
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)))
  })
}
