/** The small HTML pages of one-click unsubscribe: no script, no outside resources. */

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (char) =>
      ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char] ?? char,
  )

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>${escapeHtml(title)}</title>
<style>
body{font:1.125rem/1.5 system-ui,sans-serif;margin:0;padding:2rem 1rem;color:#1a1a1a;background:#fff}
main{max-width:32rem;margin:0 auto}
button{font:inherit;padding:.6rem 1.2rem;border:2px solid #1a1a1a;border-radius:.3rem;background:#1a1a1a;color:#fff;cursor:pointer}
button:focus-visible{outline:3px solid #0b57d0;outline-offset:3px}
</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`
}

/** The confirmation page a GET shows: a link scanner that follows it unsubscribes nobody. */
export function confirmPage(list: string, domain: string): string {
  const name = `${escapeHtml(list)}</strong> from <strong>${escapeHtml(domain)}`
  return page(
    `Unsubscribe from ${list}`,
    `<h1>Unsubscribe</h1>
<p>Stop receiving the list <strong>${name}</strong>?</p>
<form method="post">
<input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Unsubscribe</button>
</form>`,
  )
}

/** The answer to a POST (the first or any later one: the outcome is the same). */
export function donePage(list: string, domain: string): string {
  return page(
    `Unsubscribed from ${list}`,
    `<h1>You are unsubscribed</h1>
<p>You will not receive the list <strong>${escapeHtml(list)}</strong> from <strong>${escapeHtml(domain)}</strong> any more. Other mail from this sender, such as receipts and password resets, still reaches you.</p>`,
  )
}

/** Unknown, forged or truncated links: nothing about any recipient, list or message. */
export function notFoundPage(): string {
  return page(
    'Link not valid',
    `<h1>This link is not valid</h1>
<p>The unsubscribe link is incomplete or not one of ours. Copy the whole link from the message, or use the unsubscribe option of your mail program.</p>`,
  )
}
