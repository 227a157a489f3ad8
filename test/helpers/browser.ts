// Launches Debian's headless Chromium through puppeteer-core for page tests, and collects what the
// page logs as errors (console errors and uncaught exceptions).
import puppeteer, { type Browser, type Page } from "puppeteer-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export async function launchBrowser(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Chromium refuses to run as root with its sandbox; test machines and containers often are root.
    args: [...(process.getuid?.() === 0 ? ["--no-sandbox"] : []), "--disable-gpu", "--disable-dev-shm-usage"],
  });
}

/**
 * A new page in its own browser context (fresh localStorage and cookies), whose console errors and
 * uncaught exceptions land in `errors`.
 */
export async function openPage(browser: Browser): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  page.once("close", () => void context.close().catch(() => {}));
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`${m.text()} (${m.location().url ?? ""})`);
  });
  page.on("pageerror", (e) => errors.push(`uncaught: ${(e as Error).message}`));
  return { page, errors };
}
