// The event history on its embedded store, against the whole pipeline: see scenarios.ts.
import { consoleScenarios } from './scenarios.ts';

consoleScenarios('sqlite');
