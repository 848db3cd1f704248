// The event history on PostgreSQL, against the whole pipeline: see scenarios.ts.
import { consoleScenarios } from './scenarios.ts';

consoleScenarios('postgres');
