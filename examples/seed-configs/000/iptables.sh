# Seed 000, "Alternativ: iptables manuellt", on the Proxmox host
# Tillåt traffic på vmbr1 (intern)
iptables -A FORWARD -i vmbr1 -o vmbr1 -j ACCEPT

# Blockera vmbr1 från internet
iptables -A FORWARD -i vmbr1 -o vmbr0 -j DROP
iptables -A FORWARD -i vmbr0 -o vmbr1 -j DROP
