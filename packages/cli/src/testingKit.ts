/**
 * @wxbot/testing, loaded only by `wxbot simulate` (its fake WeChat peer and fake WeChat API).
 * It is an optional peer dependency of the CLI, so a bot that never simulates does not
 * install it; without it, simulate says what to install.
 */
export async function loadTestingKit(): Promise<typeof import('@wxbot/testing')> {
  try {
    return await import('@wxbot/testing');
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String((error as Error).message).includes("'@wxbot/testing'");
    if (missing) throw new Error('wxbot simulate needs the optional package @wxbot/testing (its fake WeChat peer and API): npm install --save-dev @wxbot/testing');
    throw error;
  }
}
