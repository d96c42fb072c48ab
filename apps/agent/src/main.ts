#!/usr/bin/env node
import { Command } from 'commander';
import { defineAgentCommand } from './command.js';

await defineAgentCommand(new Command('mycelium-agent')).parseAsync(process.argv);
