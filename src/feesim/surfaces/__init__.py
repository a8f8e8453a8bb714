"""What people use: the command line, the dashboard, the forecast report and the plots."""
