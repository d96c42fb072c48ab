#!/usr/bin/env -S node --max-semi-space-size=1
import { Command } from 'commander';
import { defineAgentCommand } from './command.js';

await defineAgentCommand(new Command('mycelium-agent')).parseAsync(process.argv);
