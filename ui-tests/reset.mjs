// reset.mjs drives the Temporal UI in headless Chromium the way an engineer replays a failed
// sync: filter the workflow list by a visibility query, open the failed run, check what its
// failure says, and Reset it to its first workflow task. It prints one JSON line (the failed
// and the new run ids, the failure and the input as the UI shows them, the screenshots).
//
//   node ui-tests/reset.mjs --ui http://127.0.0.1:8233 --query 'CorpId="c" AND ExecutionStatus="Failed"' \
//     --workflow-id fullsync/c --artifacts DIR
//
// Each flag can also come from the environment: UI_URL, UI_QUERY, WORKFLOW_ID, ARTIFACTS_DIR
// (and CHROMIUM, default /usr/bin/chromium; NAMESPACE, default "default").
// internal/e2e/ui_reset_test.go runs it; scripts/ensure-ui-tools.sh installs what it needs.
import { chromium } from 'playwright-core';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: flags } = parseArgs({
  options: {
    ui: { type: 'string', default: process.env.UI_URL },
    query: { type: 'string', default: process.env.UI_QUERY },
    'workflow-id': { type: 'string', default: process.env.WORKFLOW_ID },
    artifacts: { type: 'string', default: process.env.ARTIFACTS_DIR ?? '.dingsync/artifacts' },
    namespace: { type: 'string', default: process.env.NAMESPACE ?? 'default' },
  },
});
for (const name of ['ui', 'query', 'workflow-id']) {
  if (!flags[name]) {
    console.error(`reset.mjs: --${name} is required (see the usage at the top of the file)`);
    process.exit(2);
  }
}
const workflowID = flags['workflow-id'];
mkdirSync(flags.artifacts, { recursive: true });

// Without the background-networking flags Chromium hangs on a closed network.
const profile = mkdtempSync(join(tmpdir(), 'dingsync-ui-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1400, height: 900 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage();
page.setDefaultTimeout(30_000);
const screenshots = [];
async function shot(name) {
  const path = join(flags.artifacts, name);
  await page.screenshot({ path, fullPage: false });
  screenshots.push(path);
}

try {
  const result = await replay();
  console.log(JSON.stringify({ ...result, screenshots }));
} catch (err) {
  await shot('error.png').catch(() => {});
  console.error(`reset.mjs: ${err.message}\nscreenshots: ${screenshots.join(' ')}`);
  process.exitCode = 1;
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}

async function replay() {
  const failed = await openFailedRun();
  const shown = await failureAndInput();
  await shot('1-failed-run.png');
  await resetToFirstWorkflowTask();
  const resetRunID = await followToResetRun(failed);
  await shot('3-reset-run.png');
  return { failedRunId: failed, resetRunId: resetRunID, ...shown };
}

// openFailedRun filters the list with the raw query, as typed in the UI, and opens the one
// execution it finds; it returns that run's id.
async function openFailedRun() {
  await page.goto(`${flags.ui}/namespaces/${flags.namespace}/workflows`);
  // The "raw query" toggle is an icon button without an accessible name.
  await page.getByTestId('toggle-manual-query').click();
  await page.getByRole('searchbox', { name: 'Enter a query' }).fill(flags.query);
  await page.getByRole('button', { name: 'Search' }).click();
  const rows = page.getByRole('table', { name: 'Workflows' }).getByRole('row').filter({ hasText: workflowID });
  await rows.first().waitFor();
  await page.getByRole('heading', { name: /^1 Workflows?$/ }).waitFor();
  if (!(await rows.first().innerText()).includes('Failed')) {
    throw new Error(`the query found ${workflowID}, but not as Failed`);
  }
  await shot('0-filtered-list.png');
  await rows.first().getByRole('link', { name: workflowID }).click();
  await page.getByRole('heading', { name: workflowID }).waitFor();
  await page.getByText('Failed', { exact: true }).first().waitFor();
  const m = decodeURIComponent(page.url()).match(/\/workflows\/.+\/([0-9a-f-]{36})\/history/);
  if (!m) throw new Error(`no run id in the workflow page's URL ${page.url()}`);
  return m[1];
}

// failureAndInput reads the Input and Result panels of the workflow page.
async function failureAndInput() {
  const panel = (name) => page.getByRole('heading', { name, level: 2 }).locator('xpath=..');
  const input = await panel('Input').innerText();
  const failure = await panel('Result').innerText();
  return { input, failure };
}

// resetToFirstWorkflowTask uses the Reset dialog: the first WorkflowTaskCompleted event is
// the reset point `temporal workflow reset --type FirstWorkflowTask` picks.
async function resetToFirstWorkflowTask() {
  await page.getByRole('button', { name: 'Reset', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: 'Reset Workflow' });
  await dialog.getByText('Choose an Event to reset to').waitFor();
  // The page holds hidden copies of this dialog with the same element ids, so the labels do
  // not lead to these controls: they are found by test id.
  await dialog.getByTestId('workflow-reset-event-id-select-button').click();
  const options = dialog.getByRole('option', { name: /^\d+ - WorkflowTaskCompleted$/ });
  await options.first().waitFor();
  const names = await options.allInnerTexts();
  const ids = names.map((n) => parseInt(n, 10));
  const first = Math.min(...ids);
  await options.nth(ids.indexOf(first)).click();
  await dialog.getByTestId('reset-reason').fill('credentials fixed; replay from the first workflow task');
  await shot('2-reset-dialog.png');
  await dialog.getByRole('button', { name: 'Confirm' }).click();
  await dialog.waitFor({ state: 'hidden' });
}

// followToResetRun follows the banner's link from the failed run to the new one and waits
// until it completes; it returns the new run's id.
async function followToResetRun(failedRunID) {
  await page.getByText('This Workflow has been reset').waitFor();
  await page.getByRole('link', { name: 'here', exact: true }).click();
  const runInURL = /\/workflows\/.+\/([0-9a-f-]{36})\/history/;
  await page.waitForURL((url) => {
    const m = decodeURIComponent(url.pathname).match(runInURL);
    return m !== null && m[1] !== failedRunID;
  });
  const runID = decodeURIComponent(page.url()).match(runInURL)[1];
  await page.getByText(runID, { exact: true }).first().waitFor();
  // The page refreshes a running workflow by itself; reload in case it closed unnoticed.
  const closed = ['Completed', 'Failed', 'Terminated', 'Canceled', 'Timed Out']
    .map((status) => page.getByText(status, { exact: true }))
    .reduce((any, status) => any.or(status)).first();
  for (let attempt = 1; ; attempt++) {
    try {
      await closed.waitFor({ timeout: 20_000 });
      break;
    } catch (err) {
      if (attempt === 3) throw new Error(`the reset run did not close within a minute: ${err.message}`);
      await page.reload();
    }
  }
  const status = await closed.innerText();
  if (status !== 'Completed') {
    await shot('3-reset-run.png');
    throw new Error(`the reset run ended ${status}`);
  }
  return runID;
}
