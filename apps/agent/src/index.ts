export { Agent, AGENT_VERSION, AgentError, type AgentOptions } from './agent.js';
export { defineAgentCommand } from './command.js';
