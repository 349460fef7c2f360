# Seed 004 (VPN-only macOS VM), "Layer 2: iptables Firewall (Inside VM)", as the guide writes it.
# NetworkIsolation.swift:199-213
iptables -P OUTPUT DROP              # Drop all outgoing by default

# Allow ONLY these interfaces:
iptables -A OUTPUT -o lo -j ACCEPT   # Localhost (VM internal)
iptables -A OUTPUT -o wg0 -j ACCEPT  # VPN interface

# NOTICE: No rule for -o eth0
# This means eth0 output is BLOCKED by default policy

# Layer 3: What About Incoming Connections?
iptables -P INPUT DROP               # Drop all incoming by default
iptables -A INPUT -i lo -j ACCEPT    # Allow localhost
iptables -A INPUT -i wg0 -j ACCEPT   # Allow VPN
