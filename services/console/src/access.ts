/** What the signed-in key may do; pages hide the buttons it may not use (/v1 refuses anyway). */
export type Access = { canSend: boolean; canAdmin: boolean }
