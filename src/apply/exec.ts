export { firstError, run, type ExecResult } from '../system/exec.js'; // TODO(lead): sandbox imports move to system/ after merge
